// The one rule for closing on SIGINT/SIGTERM (servers with service discovery, ConsulAgent's
// opt-in handling, the one-host backend): close, then re-raise the signal only when no one else
// handles it, so Node's default action ends the process with the usual status; when the
// application handles the signal itself, it is in charge. A leaf: every layer may use it.

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Options of {@link closeOnSignals}. */
export interface CloseOnSignalsOptions {
  /**
   * Close only when this handler is the signal's only listener (the one-host backend: when the
   * application handles the signal, its own exit cleans up). Default: always close.
   */
  onlyWhenAlone?: boolean;
  /** Called with a failure of `close` (default: ignored — report it inside `close`). */
  onError?: (err: unknown, signal: NodeJS.Signals) => void;
}

/**
 * Runs `close` once on the first SIGTERM or SIGINT, then re-raises the signal when no other
 * listener is left. Returns the function that removes the handlers (call it from `close`).
 */
export function closeOnSignals(close: () => Promise<void>, options: CloseOnSignalsOptions = {}): () => void {
  const remove = (): void => {
    for (const sig of SIGNALS) process.removeListener(sig, onSignal);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    const alone = process.listenerCount(signal) === 1;
    remove();
    if (options.onlyWhenAlone === true && !alone) return;
    void close()
      .catch((err: unknown) => options.onError?.(err, signal))
      .finally(() => {
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      });
  };
  for (const sig of SIGNALS) process.on(sig, onSignal);
  return remove;
}
