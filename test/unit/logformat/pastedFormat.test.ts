/**
 * Formats as people paste them (core/logformat/pastedFormat.ts): a whole nginx `log_format`
 * directive, an Apache `LogFormat` directive or string; `$uri`; and the fit of a format to the
 * first lines of a log (core/logformat/formatFit.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileNginxFormat } from '../../../services/core/logformat/compileNginxFormat.ts';
import { createParser } from '../../../services/core/logformat/createParser.ts';
import { formatFit, isMisfit } from '../../../services/core/logformat/formatFit.ts';
import { LogFormatError } from '../../../services/core/logformat/logFormatError.ts';
import { formatFromPaste } from '../../../services/core/logformat/pastedFormat.ts';
import { PRESET_FORMATS } from '../../../services/core/logformat/presetFormats.ts';

const LINE = '203.0.113.5 - - [02/Mar/2026:14:00:00 +0000] "GET /tiles/7/64/42.png HTTP/1.1" 200 1234 "https://museum.example/" "Mozilla/5.0 Firefox/128.0"';

describe('pasted formats', () => {
  it('joins the quoted pieces of a whole nginx log_format directive, with or without escape=', () => {
    const directive = `log_format main '$remote_addr - $remote_user [$time_local] "$request" '\n                '$status $body_bytes_sent "$http_referer" '\n                '"$http_user_agent"';`;
    assert.equal(formatFromPaste(directive), PRESET_FORMATS.combined.format);
    assert.equal(formatFromPaste(`log_format j escape=json '{"a":"$remote_addr"}';`), '{"a":"$remote_addr"}');
    assert.equal(formatFromPaste(`  log_format tw "$remote_addr [$time_local] \\"$request\\" $status";`), '$remote_addr [$time_local] "$request" $status');
    const r = createParser({ format: directive }).parse(LINE);
    assert.ok(r.ok);
    assert.equal(r.record.userAgent, 'Mozilla/5.0 Firefox/128.0');
  });

  it('translates Apache LogFormat directives and strings to the nginx variables with the same meaning', () => {
    const combined = 'LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-agent}i\\"" combined';
    assert.equal(formatFromPaste(combined), '$remote_addr $remote_ident $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"');
    assert.equal(formatFromPaste('%h %l %u %t "%r" %>s %b'), '$remote_addr $remote_ident $remote_user [$time_local] "$request" $status $body_bytes_sent');
    assert.equal(formatFromPaste('%a [%t] "%m %U%q" %s'), '$remote_addr [[$time_local]] "$request_method $request_uri" $status');
    const r = createParser({ format: combined }).parse(LINE);
    assert.ok(r.ok);
    assert.deepEqual([r.record.ip, r.record.status, r.record.bytes, r.record.referer, r.record.target], ['203.0.113.5', 200, 1234, 'https://museum.example/', '/tiles/7/64/42.png']);
    assert.throws(() => formatFromPaste('%h %{%d/%b/%Y}t "%r"'), LogFormatError);
  });

  it('leaves presets and plain log_format strings alone', () => {
    for (const f of ['combined', 'json', 'auto', '$remote_addr [$time_local] "$request"']) assert.equal(formatFromPaste(f), f);
  });

  it('reads $uri as the request target (path without the query)', () => {
    const parse = compileNginxFormat('$remote_addr [$time_local] "$request_method $uri" $status');
    const r = parse('198.51.100.7 [02/Mar/2026:14:00:00 +0000] "GET /iiif/2/a/full/max/0/default.jpg" 200');
    assert.ok(r.ok);
    assert.deepEqual([r.record.method, r.record.target], ['GET', '/iiif/2/a/full/max/0/default.jpg']);
  });

  it('refuses an invalid or unknown format with a LogFormatError naming what is missing', () => {
    assert.throws(() => createParser({ format: '$remote_addr $time_local' }), (e: unknown) => e instanceof LogFormatError && /missing \$request, \$request_uri or \$uri/.test(e.message));
    assert.throws(() => createParser({ format: 'combind' }), (e: unknown) => e instanceof LogFormatError && /unknown log format/.test(e.message));
  });
});

describe('format fit', () => {
  const parse = createParser({ format: 'combined' }).parse;
  it('counts the non-blank lines of the sample that do not parse, and keeps the first with its reason', () => {
    const fit = formatFit(parse, ['', LINE, 'garbage', LINE, 'more garbage']);
    assert.equal(fit.sampled, 4);
    assert.equal(fit.failed, 2);
    assert.equal(fit.first?.index, 2);
    assert.equal(fit.first?.line, 'garbage');
    assert.ok((fit.first?.reason ?? '').length > 0);
  });
  it('is a misfit only when most of at least 20 lines fail', () => {
    const many = (bad: number, good: number): string[] => [...Array<string>(bad).fill('x y z'), ...Array<string>(good).fill(LINE)];
    assert.equal(isMisfit(formatFit(parse, many(11, 9))), true);
    assert.equal(isMisfit(formatFit(parse, many(10, 10))), false, 'half is not most');
    assert.equal(isMisfit(formatFit(parse, many(19, 0))), false, 'too few lines to judge');
  });
});
