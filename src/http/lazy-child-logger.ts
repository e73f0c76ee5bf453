/**
 * Fastify's per-request child logger, made only when the request logs something. Request logging
 * is off on the EST listener, so nearly every request never logs, yet Fastify built a pino child
 * for each (bindings serialised through the redaction paths): about 1% of the server's core on
 * keep-alive simpleenroll (npm run bench -- --cpu-prof). The first call builds the real child with
 * the same bindings and options, so what a request does log is unchanged (its reqId included).
 */
import type { FastifyBaseLogger } from 'fastify';

type Bindings = Record<string, unknown>;
type LogFn = FastifyBaseLogger['info'];

export class LazyChildLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: object,
  ) {}

  private real(): FastifyBaseLogger {
    return (this.made ??= this.parent.child(this.bindings, this.options));
  }

  get level(): string {
    return this.made ? this.made.level : ((this.options as { level?: string }).level ?? this.parent.level);
  }

  set level(level: string) {
    this.real().level = level;
  }

  fatal(...args: Parameters<LogFn>): void {
    this.real().fatal(...args);
  }

  error(...args: Parameters<LogFn>): void {
    this.real().error(...args);
  }

  warn(...args: Parameters<LogFn>): void {
    this.real().warn(...args);
  }

  info(...args: Parameters<LogFn>): void {
    this.real().info(...args);
  }

  debug(...args: Parameters<LogFn>): void {
    this.real().debug(...args);
  }

  trace(...args: Parameters<LogFn>): void {
    this.real().trace(...args);
  }

  silent(...args: Parameters<LogFn>): void {
    this.real().silent(...args);
  }

  child(bindings: Bindings, options?: object): FastifyBaseLogger {
    return this.real().child(bindings, options);
  }
}

/** For Fastify's `childLoggerFactory` option. */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, options: object): FastifyBaseLogger {
  return new LazyChildLogger(logger, bindings, options) as unknown as FastifyBaseLogger;
}
