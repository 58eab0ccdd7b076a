// What is left of the protocol in TypeScript: parsing a value string, for the read side's
// aggregate.ts (being replaced by the core's reader). The write side — keys, value strings,
// scripts, the writer's state machine (§7) and error-storm throttling — is the core's
// (native/src/twin_api.rs over native/src/backend/{conn,field,writer,throttle}.rs).

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parses a value string (the text before a space, if any); undefined when it is not one. */
export function parseValue(s: string): number | undefined {
  const sp = s.indexOf(' ');
  const t = sp < 0 ? s : s.slice(0, sp);
  switch (t) {
    case 'NaN':
    case 'nan':
      return NaN;
    case '+Inf':
    case 'inf':
    case '+inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
    case '-inf':
      return -Infinity;
  }
  return DECIMAL.test(t) ? Number(t) : undefined;
}
