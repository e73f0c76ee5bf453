import { Writable } from 'node:stream';
import Fastify, { LogController } from 'fastify';
import pino from 'pino';
import { expect, it } from 'vitest';
import { LazyChildLogger, lazyChildLogger } from '../../src/http/lazy-child-logger.js';

function collected(): { lines: Record<string, unknown>[]; logger: pino.Logger } {
  const lines: Record<string, unknown>[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, out) };
}

it('makes no pino child until something is logged, then logs with the bindings', () => {
  const { lines, logger } = collected();
  let children = 0;
  const child = logger.child.bind(logger);
  logger.child = ((b: pino.Bindings, o?: pino.ChildLoggerOptions) => (children++, child(b, o))) as unknown as typeof logger.child;
  const lazy = lazyChildLogger(logger, { reqId: 'req-7' }, {});
  expect(lazy).toBeInstanceOf(LazyChildLogger);
  expect(lazy.level).toBe('info');
  lazy.debug('below the level');
  expect(children).toBe(1); // debug goes through the real child too (pino decides), made once
  lazy.error({ code: 'x' }, 'failed');
  lazy.info('again');
  expect(children).toBe(1);
  expect(lines).toMatchObject([{ reqId: 'req-7', code: 'x', msg: 'failed', level: 50 }, { reqId: 'req-7', msg: 'again' }]);
  const unused = lazyChildLogger(logger, { reqId: 'req-8' }, { level: 'warn' });
  expect(unused.level).toBe('warn');
  expect(children).toBe(1);
});

it('under Fastify: a request that logs nothing makes no child; one that logs carries its reqId', async () => {
  const { lines, logger } = collected();
  let children = 0;
  const child = logger.child.bind(logger);
  logger.child = ((b: pino.Bindings, o?: pino.ChildLoggerOptions) => (children++, child(b, o))) as unknown as typeof logger.child;
  const app = Fastify({ loggerInstance: logger, logController: new LogController({ disableRequestLogging: true }), childLoggerFactory: lazyChildLogger });
  app.get('/quiet', async () => 'ok');
  app.get('/loud', async (request) => {
    request.log.warn('something to say');
    return 'ok';
  });
  await app.ready();
  const before = children;
  expect((await app.inject({ url: '/quiet' })).statusCode).toBe(200);
  expect(children).toBe(before);
  expect((await app.inject({ url: '/loud' })).statusCode).toBe(200);
  expect(children).toBe(before + 1);
  expect(lines.at(-1)).toMatchObject({ msg: 'something to say', reqId: expect.stringMatching(/^req-/) });
  await app.close();
});
