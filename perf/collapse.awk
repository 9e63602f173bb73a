# `perf script` output to folded stacks ("comm;outer;...;inner count"), one
# line per distinct stack. perf script prints a header line per sample, then
# one frame per line (innermost first: "addr symbol+off (dso)"), then a blank
# line. Unknown symbols become "[dso]" so samples are never dropped.
/^[^ \t]/ { comm = $1; n = 0; next }
/^[ \t]+[0-9a-f]+ / {
  line = $0
  sub(/^[ \t]+[0-9a-f]+ /, "", line)
  dso = ""
  if (match(line, / \([^()]*\)$/)) { dso = substr(line, RSTART + 2, RLENGTH - 3); line = substr(line, 1, RSTART - 1) }
  sub(/\+0x[0-9a-f]+$/, "", line)
  if (line == "[unknown]" || line == "") { n2 = split(dso, parts, "/"); line = parts[n2]; if (line !~ /^\[/) line = "[" line "]" }
  gsub(/;/, ":", line)
  frames[n++] = line
  next
}
/^[ \t]*$/ {
  if (n > 0) { s = comm; for (i = n - 1; i >= 0; i--) s = s ";" frames[i]; count[s]++ }
  n = 0
}
END {
  if (n > 0) { s = comm; for (i = n - 1; i >= 0; i--) s = s ";" frames[i]; count[s]++ }
  for (s in count) print s, count[s]
}
