/**
 * The server's systemd unit (assets/systemd/estuary.service, quoted in the README): systemd's own
 * checker accepts it, and its ExecStart, ExecReload and stop signal do what the comments say when
 * run as systemd would run them (the code in this checkout instead of /opt/estuary).
 */
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { estuary } from '../helpers/cli.js';
import { estRequest } from '../helpers/est-http.js';
import { tempDir } from '../helpers/home.js';

const UNIT = 'assets/systemd/estuary.service';

/** key → values of a unit file's [Service] section (comments and other sections left out). */
function serviceSection(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) section = header[1]!;
    else if (section === 'Service') {
      const eq = line.indexOf('=');
      const key = line.slice(0, eq);
      out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
    }
  }
  return out;
}

const text = readFileSync(UNIT, 'utf8');
const service = serviceSection(text);

describe('assets/systemd/estuary.service', () => {
  it('systemd-analyze verify finds nothing to say about it', async () => {
    const dir = tempDir('estuary-unit-');
    copyFileSync(UNIT, join(dir, 'estuary.service'));
    const { stdout, stderr } = await promisify(execFile)('systemd-analyze', ['verify', join(dir, 'estuary.service')], { encoding: 'utf8' });
    expect(stdout + stderr).toBe('');
  });

  it('the README quotes the unit as it is in assets/', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toContain('```ini\n' + text.trim() + '\n```');
  });

  it('stops with SIGTERM, restarts on failure but not on a configuration error (exit 2), and waits longer than the drain', () => {
    expect(service.get('KillSignal')).toEqual(['SIGTERM']);
    expect(service.get('Restart')).toEqual(['on-failure']);
    expect(service.get('RestartPreventExitStatus')).toEqual(['2']);
    expect(Number(service.get('TimeoutStopSec')![0])).toBeGreaterThan(10 + 5); // limits.drainSeconds default + the server's own margin
  });
});

describe('ExecStart, ExecReload and the stop signal, run as systemd runs them', () => {
  let home: string;
  beforeAll(async () => {
    home = join(tempDir('estuary-unit-home-'), 'estuary');
    expect((await estuary(['init', '--home', home])).code).toBe(0);
  });

  it('serves, takes up a reissued server certificate on reload, and drains to exit 0 on stop', async () => {
    const env = Object.fromEntries(service.get('Environment')!.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    expect(env.ESTUARY_HOME).toBe('/var/lib/estuary');
    const [node, ...args] = service.get('ExecStart')![0]!.split(/\s+/).map((a) => a.replace('/opt/estuary', process.cwd()));
    expect(node).toBe('/usr/bin/node');
    const child = spawn(node!, args, {
      env: { ...process.env, ...env, ESTUARY_HOME: home, ESTUARY_EST_LISTEN: '127.0.0.1:0', ESTUARY_CRL_LISTEN: '127.0.0.1:0', ESTUARY_ADMIN_LISTEN: '127.0.0.1:0', ESTUARY_OPS_LISTEN: '127.0.0.1:0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const until = async (re: RegExp, ms = 60_000) => {
      for (const end = Date.now() + ms; !re.test(out); ) {
        if (Date.now() > end) throw new Error(`no ${re} in:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return re.exec(out)!;
    };
    try {
      const base = (await until(/EST service listening on (https:\/\/\S+)/))[1]!;
      const ca = readFileSync(join(home, 'ca', 'root.pem'), 'utf8');
      expect((await estRequest(`${base}/cacerts`, { ca })).status).toBe(200);

      // ExecReload: kill -HUP $MAINPID, after `estuary tls issue` replaced the certificate
      expect((await estuary(['tls', 'issue', '--home', home, '--dns', 'est.example.test', '--ip', '127.0.0.1'])).code).toBe(0);
      const reload = service.get('ExecReload')![0]!.replace('$MAINPID', String(child.pid)).split(/\s+/);
      await promisify(execFile)(reload[0]!, reload.slice(1));
      await until(/server certificate reloaded/);
      expect((await estRequest(`${base}/cacerts`, { ca })).status).toBe(200);

      child.kill(service.get('KillSignal')![0] as NodeJS.Signals);
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
