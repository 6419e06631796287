/**
 * The daily traffic curve of human visitors (UTC).
 */

/** Relative traffic by hour of day (UTC): trough ≈ 03:30, peak ≈ 15:30. */
export function diurnal(hourOfDay: number): number {
  const x = (1 - Math.cos((2 * Math.PI * (hourOfDay - 3.5)) / 24)) / 2;
  return 0.12 + 0.88 * x ** 1.3;
}

/** Hour of day (UTC, fractional) of an epoch-ms instant. */
export const hourOfDay = (t: number): number => (((t % 86_400_000) + 86_400_000) % 86_400_000) / 3_600_000;
