/**
 * One simulated request and the helpers actors use to emit them.
 */

export interface SimEvent {
  /** Event time, epoch milliseconds (the log prints whole seconds). */
  t: number;
  ip: string;
  method: 'GET' | 'HEAD';
  path: string;
  proto: 'HTTP/1.1' | 'HTTP/2.0';
  status: number;
  bytes: number;
  /** '' = no Referer ('-' in the log). */
  referer: string;
  ua: string;
  /** Catalog image this request concerns (page, descriptor, tile, full image), or null. */
  image: string | null;
  /**
   * Which person's browsing session inside a many-person actor (NAT, proxy, classroom) sent this;
   * ground truth for labels and tests, never written to the log. Absent for one-person actors.
   */
  session?: number;
}

/** An actor's request stream: events in non-decreasing `t`. */
export type EventStream = Iterator<SimEvent, unknown, undefined>;

/** Who is sending: address, user agent, HTTP version. */
export interface Client {
  readonly ip: string;
  readonly ua: string;
  readonly proto: 'HTTP/1.1' | 'HTTP/2.0';
}

export function req(
  c: Client,
  t: number,
  path: string,
  status: number,
  bytes: number,
  referer: string,
  image: string | null,
  method: 'GET' | 'HEAD' = 'GET',
): SimEvent {
  return {
    t,
    ip: c.ip,
    method,
    path,
    proto: c.proto,
    status,
    bytes: status === 304 || method === 'HEAD' ? 0 : bytes,
    referer,
    ua: c.ua,
    image,
  };
}

/** A mutable time cursor shared by an actor's helper generators (ms). */
export interface Clock {
  t: number;
}
