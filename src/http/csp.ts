/**
 * A content security policy that lets a page load only from the service itself (the operator
 * pages: /docs, the queue board). Each page says only what its styles need beyond that.
 */
export function ownOriginCsp(styleSrc: string): string {
  return [
    "default-src 'self'",
    `style-src ${styleSrc}`,
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}
