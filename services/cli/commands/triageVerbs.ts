import type { AlertAction } from '../../incidents/alerts.ts';

/** The verbs of the CLI and the action each records (as the API's ACTION_ROUTES). */
export const TRIAGE_VERBS: ReadonlyArray<{ readonly verb: 'ack' | 'mute' | 'resolve' | 'reopen'; readonly action: AlertAction; readonly done: string }> = [
  { verb: 'ack', action: 'acknowledge', done: 'acknowledged' },
  { verb: 'mute', action: 'mute', done: 'muted' },
  { verb: 'resolve', action: 'resolve', done: 'resolved' },
  { verb: 'reopen', action: 'reopen', done: 'reopened' },
];
