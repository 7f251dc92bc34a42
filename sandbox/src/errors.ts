/**
 * A refusal in the bank's error shape. Thrown anywhere in the sandbox and turned
 * into `{status:"error", error:{code, description}}` with `httpStatus` by sandbox/src/api-routes.ts.
 */
export class SandboxError extends Error {
  constructor(
    readonly code: string,
    readonly description: string,
    readonly httpStatus = 400,
  ) {
    super(`${code}: ${description}`);
  }
}
