import type { z } from 'zod';

/** zod issues as "path.to.field: problem" lines, the form every 4xx and log line uses. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`);
}
