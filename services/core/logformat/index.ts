/** Public surface of the pure log-line parsing core. */
export type { LineParser, LineParserOptions } from './lineParser.ts';
export { DEFAULT_MAX_LINE_LENGTH } from './lineParser.ts';
export { canonicalIp } from './canonicalIp.ts';
export { compileCidrMatcher, parseCidr, subnetOf, type Cidr } from './cidr.ts';
export { compileNginxFormat, type NginxFormatOptions } from './compileNginxFormat.ts';
export { createJsonParser, JSON_FIELD_ALIASES } from './createJsonParser.ts';
export { createParser, FORMAT_NAMES, type NamedParser, type ParserSpec } from './createParser.ts';
export { detectFormat, DETECT_SAMPLE_SIZE, type DetectedFormat } from './detectFormat.ts';
export { PRESET_FORMATS, type PresetFormat, type PresetName } from './presetFormats.ts';
export { parseIsoTime } from './parseIsoTime.ts';
export { parseMsec } from './parseMsec.ts';
export { parseRequestLine, type RequestLineParts } from './parseRequestLine.ts';
export { parseTimeLocal } from './parseTimeLocal.ts';
export { isForwardedForList, resolveClientIp } from './resolveClientIp.ts';
export { unescapeLogString } from './unescapeLogString.ts';
export { LogFormatError } from './logFormatError.ts';
export { formatFromPaste } from './pastedFormat.ts';
