import { InvalidOptionsError, PromsdError } from '../metrics/errors';

/** A backend option is invalid; the message names the option and the value. */
export class BackendConfigError extends InvalidOptionsError {
  override name = 'BackendConfigError';
}

/** `loadBackend` was called while another backend is loaded. */
export class BackendLoadedError extends PromsdError {
  override name = 'BackendLoadedError';
}
