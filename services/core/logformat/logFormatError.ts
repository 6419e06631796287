/** A log format that cannot be used: an invalid `log_format`, an unknown name, or one that does not fit the log. */
export class LogFormatError extends Error {
  override readonly name = 'LogFormatError';
}
