// Types for fluxgate.js: the client for the Fluxgate change stream.

export type Channel = 'user_changes' | 'post_changes' | 'account_changes' | 'profile_changes' | (string & {});
export type Status = 'connecting' | 'open' | 'reconnecting' | 'closed';
export type Transport = 'auto' | 'websocket' | 'sse';

/** A row filter on the event's camelCase data (see the service's README, "Change stream"). */
export type Condition = {
  eq?: unknown; neq?: unknown; lt?: unknown; lte?: unknown; gt?: unknown; gte?: unknown;
  in?: unknown[]; like?: string; isNull?: boolean;
};
export type Filter = { and?: Filter[]; or?: Filter[]; not?: Filter } & { [field: string]: Condition | Filter[] | Filter | undefined };

export interface ChangeEvent<Row = Record<string, unknown>> {
  type: 'database_change';
  channel: Channel;
  operation: 'INSERT' | 'UPDATE' | 'DELETE';
  table: string;
  data: Row;
  /** Opaque; pass the last one as resumeFrom to continue after it. Null on live-only channels. */
  cursor: string | null;
  committedAt: string;
  /** The subscriptions (by id) this event is delivered for, over WebSocket. */
  subscriptions?: string[];
}

export interface SnapshotPage<Row = Record<string, unknown>> { type: 'snapshot'; channel: Channel; id?: string; table: string; data: Row[] }
export interface SnapshotEnd { type: 'snapshot_end'; channel: Channel; id?: string; cursor: string }
export interface ResyncRequired { type: 'resync_required'; channel: Channel }
export interface ErrorFrame { type: 'error'; channel?: Channel; error: string; detail?: string }

export type Frame<Row = Record<string, unknown>> = ChangeEvent<Row> | SnapshotPage<Row> | SnapshotEnd | ResyncRequired | ErrorFrame;

export interface ClientOptions {
  /** The service's base URL, such as http://localhost:8080. */
  url: string;
  /** A JWT, or a function (may be async) asked at every (re)connect and before the token expires. */
  token: string | (() => string | Promise<string>);
  /** Default 'auto': WebSocket, or Server-Sent Events when an upgrade cannot get through. */
  transport?: Transport;
  /** A WebSocket implementation where none is global (any class with the browser's constructor and handlers). */
  WebSocket?: WebSocketConstructor;
  /** A fetch implementation where none is global. */
  fetch?: (input: string, init?: { headers?: Record<string, string>; signal?: AbortSignal }) => Promise<any>;
  /** Reconnect waits: jittered, doubling from initialMs up to maxMs. Default 250 ms and 10 s. */
  backoff?: { initialMs?: number; maxMs?: number };
  /**
   * WebSocket only: silence after which the client pings (default 25 s), and how long it then waits
   * (default 10 s). An SSE stream silent for 45 s is reopened (the server comments every 15 s).
   */
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
  /** Ask for a new token this long before expiry (at most a third of what is left). Default 60 s. */
  refreshMarginMs?: number;
  /** Replace the token before it expires (default true); false lets the server close (4001) and reconnects. */
  refreshToken?: boolean;
  /** Cursors remembered per subscription to drop repeats across a reconnect. Default 512. */
  dedupeWindow?: number;
  /** Aborting it closes the client, as close() does. */
  signal?: AbortSignal;
}

/** What the client needs of a WebSocket class: the browser's, Node 22's, or the `ws` package's. */
export interface WebSocketConstructor {
  new (url: string): {
    readonly readyState: number;
    onopen: ((event: any) => void) | null;
    onmessage: ((event: { data: any }) => void) | null;
    onclose: ((event: { code: number; reason: string }) => void) | null;
    onerror: ((event: any) => void) | null;
    send(data: string): void;
    close(code?: number, reason?: string): void;
  };
}

export interface SubscribeOptions {
  /** Your name for the subscription (1..64 characters, else subscribe throws); generated when absent. */
  id?: string;
  filter?: Filter;
  columns?: string[];
  /** The visible rows first (snapshot pages, then snapshot_end), then the changes after them. */
  snapshot?: boolean;
  /** Continue after this cursor: every change committed since, then the live stream. */
  resumeFrom?: string;
  /** Aborting it unsubscribes, as unsubscribe() does. */
  signal?: AbortSignal;
}

export interface Subscription {
  readonly id: string;
  readonly channel: Channel;
  /**
   * Where a resume continues from: the last change delivered, or where the subscription started
   * (its `subscribed` or `snapshot_end` cursor, or after `resync_required` where it goes on). Store it.
   */
  readonly cursor: string | null;
  readonly status: 'pending' | 'live' | 'closed';
  /** Resolves when the server says the subscription is live (subscribed, or snapshot_end). */
  readonly ready: Promise<Subscription>;
  unsubscribe(): void;
}

export declare class FluxgateError extends Error {
  /** HTTP status of a refused connection (401, 403, 429...). */
  readonly status: number | null;
  /** A WebSocket close code, or the server's error string. */
  readonly code: number | string | null;
  /** The client stopped: nothing more will be delivered. */
  readonly fatal: boolean;
  readonly detail: unknown;
}

export interface FluxgateClient {
  /** 'closed' also before the first subscription. */
  readonly status: Status;
  readonly transport: 'websocket' | 'sse';
  /** Connects on the first subscription. Throws a TypeError for options the server would refuse unnamed, and after close(). */
  subscribe<Row = Record<string, unknown>>(channel: Channel, options?: SubscribeOptions, callback?: (frame: Frame<Row>) => void): Subscription;
  subscribe<Row = Record<string, unknown>>(channel: Channel, callback: (frame: Frame<Row>) => void): Subscription;
  /** Returns a function that removes the listener. */
  onStatus(listener: (status: Status) => void): () => void;
  onError(listener: (error: FluxgateError) => void): () => void;
  /** Changes that reach this user only because they concern it, outside any subscription. */
  onRelated(listener: (event: ChangeEvent) => void): () => void;
  close(): void;
}

/** Throws a TypeError when url is not an http(s) URL, token is missing, or no WebSocket exists for transport 'websocket'. */
export declare function createClient(options: ClientOptions): FluxgateClient;

/** The expiry (epoch ms) written in a JWT, unverified; null when it has none. */
export declare function tokenExpiry(token: string): number | null;

/** An event-stream parser: feed it text; false once one event passes the bound (16 Mi characters by default). */
export declare function eventStreamParser(onEvent: (event: { type: string; data: string; id: string | null }) => void, maxEventChars?: number): (text: string) => boolean;
