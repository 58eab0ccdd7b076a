/** The error `act` throws (fails the test if it returns). */
export function thrownBy(act: () => unknown): Error {
  try {
    act();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the call to throw, it returned');
}
