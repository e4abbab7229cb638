/** What a failed call shows the user: a thrown Error's message (a StudioClientError's included), else the value as text. */
export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
