// Where the global registry's exposition comes from when this process aggregates with others.
// backend/ installs its backend here, so metrics/ renders the aggregate without importing backend/
// (metrics/ is the bottom layer; see docs/ARCHITECTURE.md).

/** What the global registry renders through while a backend is loaded. */
export interface AggregateSource {
  render(options: { openMetrics: boolean; defaultLabels: string[] }): Promise<string>;
  /** The aggregate in the protobuf format, when the backend encodes it (the core's backends do). */
  renderProtobuf?(options: { defaultLabels: string[] }): Promise<Buffer>;
}

let source: AggregateSource | undefined;

/** @internal Installed by loadBackend, removed by the backend's close(). */
export function setGlobalAggregate(next: AggregateSource | undefined): void {
  source = next;
}

/** @internal The source the global registry renders through, if a backend is loaded. */
export function globalAggregate(): AggregateSource | undefined {
  return source;
}
