import { InvalidOptionsError, PromsdError } from '../metrics/errors';

/** A service-discovery plugin was given an invalid option (the message names it and its value). */
export class InvalidSdOptionError extends InvalidOptionsError {
  override name = 'InvalidSdOptionError';
}

/** The Consul agent answered an API call with an error status; `consulMessage` is its own text. */
export class ConsulApiError extends PromsdError {
  override name = 'ConsulApiError';

  constructor(
    /** The call that failed, e.g. `PUT /v1/agent/service/register`. */
    readonly call: string,
    /** HTTP status returned by the agent. */
    readonly statusCode: number,
    /** The agent's error text (Consul answers errors as `text/plain`). */
    readonly consulMessage: string,
  ) {
    super(`${call}: Consul answered ${statusCode}: ${consulMessage}`);
  }
}
