/** Coarse user-agent classes used as context evidence (never as the sole reason for an alert). */
export type UserAgentClass = 'browser' | 'library' | 'crawler' | 'monitor' | 'empty' | 'other';

const LIBRARY =
  /python-requests|python-urllib|aiohttp|httpx|scrapy|curl\/|wget\/|go-http-client|java\/|okhttp|libwww-perl|node-fetch|axios|undici|got \(|dezoomify|iiif-dl|httpie|powershell|ruby|php\/|guzzle|reqwest|postman/i;
const CRAWLER = /bot\b|bot\/|crawler|spider|slurp|bingpreview|facebookexternalhit|archive\.org_bot|ia_archiver/i;
const MONITOR = /uptime|pingdom|statuscake|site24x7|monitor|healthcheck|nagios|zabbix|datadog|newrelic/i;
const BROWSER = /mozilla\/5\.0.*(chrome|firefox|safari|edg|opera)/i;

export function classifyUserAgent(ua: string): UserAgentClass {
  if (ua === '' || ua === '-') return 'empty';
  if (LIBRARY.test(ua)) return 'library';
  if (MONITOR.test(ua)) return 'monitor';
  if (CRAWLER.test(ua)) return 'crawler';
  if (BROWSER.test(ua)) return 'browser';
  return 'other';
}
