import type { z } from 'zod';

/**
 * zod issues as "path.to.field: problem" lines, joined into a refusal's description: the form the
 * bank's own `invalid_request` descriptions take, so a partner reads which field and why.
 */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(body)';
    return `${where}: ${issue.message}`;
  });
}
