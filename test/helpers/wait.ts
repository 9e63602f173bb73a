// Polling for a condition in test children, where there is no event to await.
const POLL_MS = 10;

/** Resolves once pred() holds; throws naming `what` after `ms`. */
export async function waitFor(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  for (let i = 0; i < ms / POLL_MS && !pred(); i++) await new Promise((r) => setTimeout(r, POLL_MS));
  if (!pred()) throw new Error(`timed out waiting for ${what}`);
}
