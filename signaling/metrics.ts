/**
 * A small Prometheus text-format registry: counters with labels, gauges read at scrape time, and
 * histograms. Enough for `/metrics` without another dependency.
 */

type Labels = Record<string, string>;

interface Metric {
  render(): string;
}

/** Built by a plain loop: it runs on every `inc`, several times per pairing. */
function labelText(labels: Labels): string {
  let text = "";
  for (const k in labels) text += `${text ? "," : ""}${k}="${labels[k]!.replace(/[\\"\n]/g, "_")}"`;
  return text ? `{${text}}` : "";
}

export class Counter implements Metric {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    const entry = this.values.get(key);
    if (entry) entry.value += by;
    else this.values.set(key, { labels, value: by });
  }

  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels))?.value ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [key, { value }] of this.values) lines.push(`${this.name}${key} ${value}`);
    return lines.join("\n");
  }
}

/** Read when scraped, so it can never drift from the thing it measures. */
export class Gauge implements Metric {
  private value = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read?: () => number,
  ) {}

  set(value: number): void {
    this.value = value;
  }

  render(): string {
    const value = this.read ? this.read() : this.value;
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`, `${this.name} ${value}`].join(
      "\n",
    );
  }
}

export class Histogram implements Metric {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
  ) {
    this.counts = buckets.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) this.counts[i]!++;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [i, b] of this.buckets.entries())
      lines.push(`${this.name}_bucket{le="${b}"} ${this.counts[i]}`);
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`);
    lines.push(`${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return lines.join("\n");
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];

  add<M extends Metric>(metric: M): M {
    this.metrics.push(metric);
    return metric;
  }

  render(): string {
    return `${this.metrics.map((m) => m.render()).join("\n")}\n`;
  }
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The signaling server's metrics. Gauges that need live state are wired by the server. */
export function signalingMetrics(read: {
  providers: () => number;
  sockets: () => number;
  sessions: () => number;
  lagSeconds: () => number;
  backlog: () => number;
}) {
  const registry = new Registry();
  return {
    registry,
    providers: registry.add(
      new Gauge("silk_providers_connected", "Registered providers connected to this node", read.providers),
    ),
    sockets: registry.add(
      new Gauge("silk_sockets_connected", "Sockets connected to this node", read.sockets),
    ),
    sessions: registry.add(
      new Gauge(
        "silk_live_sessions",
        "Sessions holding provider capacity, cluster-wide (last directory read)",
        read.sessions,
      ),
    ),
    lag: registry.add(
      new Gauge("silk_event_loop_lag_seconds", "How late this node's timers run (smoothed)", read.lagSeconds),
    ),
    backlog: registry.add(
      new Gauge(
        "silk_registrations_pending",
        "Providers admitted on a resume ticket and not yet registered (the admission gate's backlog)",
        read.backlog,
      ),
    ),
    pairings: registry.add(new Counter("silk_pairings_total", "Sessions paired by this node")),
    rejections: registry.add(new Counter("silk_rejections_total", "Events refused by this node, by reason")),
    connections: registry.add(
      new Counter(
        "silk_connections_total",
        "Handshakes at this node, by outcome (admitted, ticket: admitted on a resume ticket, refused: the per-IP limit, overloaded: turned away for load with a time to come back)",
      ),
    ),
    overloaded: registry.add(
      new Counter(
        "silk_overloaded_total",
        "Connections turned away for load, by why (lag: the event loop runs late; backlog: returning providers still to register)",
      ),
    ),
    relayed: registry.add(
      new Counter("silk_relayed_total", "Signals and frames relayed by this node, by kind"),
    ),
    pairingSeconds: registry.add(
      new Histogram(
        "silk_pairing_seconds",
        "Time from session:request to its grant (a provider reserved and offered the session)",
        LATENCY_BUCKETS,
      ),
    ),
    refusalSeconds: registry.add(
      new Histogram(
        "silk_refusal_seconds",
        "Time from session:request to its refusal (nobody fits: NO_MODEL, PRICE_TOO_LOW, ALL_BUSY, ...)",
        LATENCY_BUCKETS,
      ),
    ),
    offerAnswerSeconds: registry.add(
      new Histogram(
        "silk_offer_answer_seconds",
        "Time from an offer to the provider's answer (or its timeout)",
        LATENCY_BUCKETS,
      ),
    ),
    offers: registry.add(
      new Counter("silk_offers_total", "Offers made by this node, by outcome (accepted, refused, no-answer)"),
    ),
    redisCommands: registry.add(
      new Counter(
        "silk_redis_commands_total",
        "Redis commands this node's directory sent, by what for (pair: one per pairing; end: one per session end)",
      ),
    ),
    moves: registry.add(
      new Counter("silk_session_moves_total", "Requesters moved to another provider after an offer failed"),
    ),
    rss: registry.add(
      new Gauge("process_resident_memory_bytes", "Resident memory", () => process.memoryUsage.rss()),
    ),
    heap: registry.add(
      new Gauge("nodejs_heap_used_bytes", "V8 heap in use", () => process.memoryUsage().heapUsed),
    ),
  };
}

export type SignalingMetrics = ReturnType<typeof signalingMetrics>;
