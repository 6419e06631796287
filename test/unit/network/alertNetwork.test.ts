/** Network context on alert versions (core/network/alertNetwork.ts), the one-line summary and the Alertmanager annotations. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { alertSummary } from '../../../services/alerting/alertText.ts';
import { AsnTableBuilder } from '../../../services/core/network/asnTable.ts';
import { withNetworkContext } from '../../../services/core/network/alertNetwork.ts';
import { createNetworkContext, noNetworkContext } from '../../../services/core/network/networkContext.ts';
import { makeAlert } from '../../support/alerts.ts';

function ctx() {
  const b = new AsnTableBuilder();
  b.addV4(0x03000000, 0x0300ffff, 16509, 'Amazon.com, Inc.'); // 3.0.0.0/16
  b.addV4(0x03010000, 0x030100ff, 14618, 'Amazon.com, Inc.'); // 3.1.0.0/24
  b.addV4(0x49000000, 0x49ffffff, 7922, 'Comcast Cable Communications, LLC'); // 73.0.0.0/8
  return createNetworkContext(b.build(), { name: 'test', version: 'test@1', licence: 'CC BY 4.0', attribution: 'test data' });
}

const ajv = new Ajv2020({ allErrors: true, strict: false });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(new URL('../../../schemas/alert.schema.json', import.meta.url), 'utf8')) as object);

test('one client: client.network and a reason naming the AS, the organisation and the class; the summary shows it; the schema accepts it', () => {
  const a = withNetworkContext(makeAlert({ client: { ip: '3.0.9.9', ips: ['3.0.9.9'] } }), ctx());
  assert.deepEqual(a.client.network, { asn: 16509, org: 'Amazon.com, Inc.', kind: 'hosting', provider: 'Amazon Web Services' });
  assert.equal(a.client.networks, undefined);
  const r = a.reasons.find((x) => x.signal === 'network');
  assert.deepEqual(r, { signal: 'network', value: 1, threshold: 1, text: 'network: AS16509 Amazon.com, Inc. — hosting provider (Amazon Web Services)' });
  assert.equal(a.score, 87, 'context only: the score is unchanged');
  assert.match(alertSummary(a), /^HIGH bulk-harvest by 3\.0\.9\.9 \[AS16509, hosting\]: /);
  assert.ok(validate(JSON.parse(JSON.stringify(a))), ajv.errorsText(validate.errors));
  const home = withNetworkContext(makeAlert({ client: { ip: '73.4.5.6', ips: ['73.4.5.6'] } }), ctx());
  assert.equal(home.reasons.at(-1)!.text, 'network: AS7922 Comcast Cable Communications, LLC — residential/other');
  const nowhere = withNetworkContext(makeAlert({ client: { ip: '192.0.2.1', ips: ['192.0.2.1'] } }), ctx());
  assert.equal(nowhere.reasons.at(-1)!.text, 'network: unknown network — unknown');
});

test('several addresses: their networks, most addresses first, and how many are in hosting networks; idempotent and deterministic', () => {
  const ips = ['3.0.0.1', '3.0.1.1', '3.0.2.1', '3.1.0.5', '73.1.1.1', '192.0.2.9'];
  const a = withNetworkContext(makeAlert({ kind: 'campaign', client: { ip: ips[0]!, ips } }), ctx());
  assert.deepEqual(
    a.client.networks?.map((n) => [n.asn, n.addresses, n.kind]),
    [
      [16509, 3, 'hosting'],
      [0, 1, 'unknown'],
      [7922, 1, 'residential/other'],
      [14618, 1, 'hosting'],
    ],
  );
  const r = a.reasons.filter((x) => x.signal === 'network');
  assert.equal(r.length, 1);
  assert.equal(r[0]!.value, 4);
  assert.equal(r[0]!.threshold, 6);
  assert.equal(
    r[0]!.text,
    'networks of 6 addresses: 3 in AS16509 Amazon.com, Inc. (hosting provider (Amazon Web Services)), 1 in unknown network (unknown), 1 in AS7922 Comcast Cable Communications, LLC (residential/other), +1 more networks; 4 of 6 in hosting networks',
  );
  assert.deepEqual(withNetworkContext(a, ctx()), a, 'a version that already carries the context gets the same again');
  assert.ok(validate(JSON.parse(JSON.stringify(a))), ajv.errorsText(validate.errors));
});

test('no ASN data: the client is "unknown" and no reason is added', () => {
  const base = makeAlert();
  const a = withNetworkContext(base, noNetworkContext());
  assert.deepEqual(a.client.network, { asn: 0, org: '', kind: 'unknown' });
  assert.deepEqual(a.reasons, base.reasons);
  assert.equal(alertSummary(a), alertSummary(base));
});
