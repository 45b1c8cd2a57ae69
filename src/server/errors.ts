// An HTTP error with its status and the one line the body carries (docs/api.md: `{ "error": "..." }`).
export class HttpError extends Error {
  readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 503;
  constructor(status: HttpError['status'], message: string) {
    super(message);
    this.status = status;
    this.name = 'HttpError';
  }
}
