/**
 * Registers the triage commands on the program built in main.ts (the composition root calls this
 * once): `alerts list|show|ack|mute|resolve|reopen` and `incidents list|show|ack|mute|resolve|reopen`.
 */
import { Option, type Command } from 'commander';
import { ALERT_KINDS, SEVERITIES } from '../../core/alert.ts';
import { EFFECTIVE_STATUSES } from '../../incidents/alerts.ts';
import { INCIDENT_STATUSES } from '../../incidents/incidentView.ts';
import type { CommandWiring } from './incidentCommands.ts';
import { TRIAGE_VERBS } from './triageVerbs.ts';

// Implementations load when their command runs (a fast `--help`).
const triage = () => import('./triage.ts');

export function registerTriageCommands(program: Command, w: CommandWiring): void {
  const { storeOptions, setExit } = w;
  const filters = (cmd: Command, statuses: readonly string[], kind: string): Command =>
    cmd
      .addOption(new Option('--kind <kind>', kind).choices([...ALERT_KINDS]))
      .addOption(new Option('--severity <severity>', 'severity').choices([...SEVERITIES]))
      .addOption(new Option('--status <status>', 'status').choices([...statuses]))
      .option('--limit <n>', 'rows (1–1000, default 100)')
      .option('--cursor <cursor>', 'continue after the previous page (its "more: --cursor …")')
      .option('--json', 'print the page as JSON');

  const alerts = program.command('alerts').description('alerts: list, show one, acknowledge, mute, resolve, reopen (recorded as cli:<user>)');
  storeOptions(
    filters(alerts.command('list').description('alerts, newest detection first, with their effective status and incident'), EFFECTIVE_STATUSES, 'alert kind').option(
      '--client <ip>',
      'only alerts naming this client IP (audited)',
    ),
  ).action(async (o) => setExit(await (await triage()).runAlertList(o)));
  storeOptions(
    alerts.command('show').description('one alert: status, incident, client, reasons, evidence lineage, action history').argument('<id>', 'alert id (tw-…)').option('--json', 'print JSON'),
  ).action(async (id: string, o) => setExit(await (await triage()).runAlertShow(id, o)));

  const incidents = program.command('incidents').description('incidents (one per actor): list, show one, and act on every alert of one (recorded as cli:<user>)');
  storeOptions(
    filters(
      incidents.command('list').description('incidents, most severe first, then latest activity, with the open incidents per severity'),
      INCIDENT_STATUSES,
      'an alert of this kind among its alerts',
    ),
  ).action(async (o) => setExit(await (await triage()).runIncidentList(o)));
  storeOptions(
    incidents
      .command('show')
      .description('one incident with its alerts (status, reasons, evidence lineage, actions)')
      .argument('<id>', 'incident id (ti-…) or the id of an alert in it')
      .option('--json', 'print JSON'),
  ).action(async (id: string, o) => setExit(await (await triage()).runIncidentShow(id, o)));

  for (const v of TRIAGE_VERBS) {
    const what = v.verb === 'ack' ? 'acknowledge' : v.verb;
    const action = (cmd: Command): Command => {
      cmd.option('--note <text>', 'note kept with the action (≤ 2000 characters)').option('--json', 'print the result as JSON');
      if (v.action === 'mute') cmd.requiredOption('--until <time>', 'expiry: an ISO-8601 time or a duration from now (30m, 2h, 7d, 2w)');
      return storeOptions(cmd);
    };
    action(alerts.command(v.verb).description(`${what} an alert`).argument('<id>', 'alert id (tw-…)')).action(async (id: string, o) => setExit(await (await triage()).runAlertAction(v, id, o)));
    action(incidents.command(v.verb).description(`${what} every alert of an incident`).argument('<id>', 'incident id (ti-…) or the id of an alert in it')).action(async (id: string, o) =>
      setExit(await (await triage()).runIncidentAction(v, id, o)),
    );
  }
}
