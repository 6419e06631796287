/** Epoch milliseconds as the ISO 8601 text the incident answers carry. */
export const iso = (ms: number): string => new Date(ms).toISOString();
