/**
 * SPEC G-16 on the command line: `lattice schema print` prints the SDL of the model given by `--preset` /
 * `--model` without a database (snake_case or graphql-default naming, `@deprecated` reasons), and
 * `lattice serve --no-introspection` starts a server that refuses introspection.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildSchema as sdlSchema, printSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { buildProgram, runCli } from '../../src/cli/program.js';
import { startServe } from '../../src/cli/serve.js';
import { buildSchema } from '../../src/graphql/schema/build.js';
import { loadPreset } from '../../src/model/load.js';
import { readCredentials } from '../../src/server/bootstrap.js';

function capture(): CliIo & { out_: string[]; err_: string[] } {
  const out_: string[] = [];
  const err_: string[] = [];
  return { out_, err_, out: (l) => out_.push(l), err: (l) => err_.push(l) };
}

describe('lattice schema print', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lattice-schema-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the SDL of the default preset, identical to the served schema, without a database', async () => {
    const io = capture();
    expect(await runCli(['schema', 'print'], io)).toBe(0);
    const sdl = io.out_.join('\n');
    expect(sdl).toBe(printSchema(buildSchema(await loadPreset('experiments'))));
    expect(sdl).toMatch(/^type Experiment \{$/m);
    expect(sdl).toMatch(/^\s+experiment_connection\($/m);
    expect(sdl).toMatch(/^input TrialFilter \{$/m);
    // It is valid SDL.
    expect(sdlSchema(sdl).getQueryType()?.name).toBe('Query');
  });

  it('prints a model file, with camelCase under naming: graphql-default and @deprecated reasons', async () => {
    const file = path.join(dir, 'model.yaml');
    await writeFile(
      file,
      [
        'name: shop',
        'naming: graphql-default',
        'entities:',
        '  order_line:',
        '    fields:',
        '      unit_price: { type: decimal, description: Price of one unit. }',
        '      old_code:   { type: string, deprecated: use sku_code }',
        '      sku_code:   { type: string }',
      ].join('\n'),
    );
    const io = capture();
    expect(await runCli(['schema', 'print', '--model', file], io)).toBe(0);
    const sdl = io.out_.join('\n');
    expect(sdl).toMatch(/^type OrderLine \{$/m);
    expect(sdl).toContain('unitPrice: Decimal');
    expect(sdl).toContain('oldCode: String @deprecated(reason: "use sku_code")');
    expect(sdl).toMatch(/orderLineConnection\(/);
    expect(sdl).toMatch(/totalCount: Int!/);
    expect(sdl).toMatch(/hasNextPage: Boolean!/);
    // No generated field, argument or input field keeps a snake_case name.
    const parsed = sdlSchema(sdl);
    const snake: string[] = [];
    for (const type of Object.values(parsed.getTypeMap())) {
      if (type.name.startsWith('__') || !('getFields' in type)) continue;
      for (const f of Object.values(type.getFields())) {
        if (f.name.includes('_')) snake.push(`${type.name}.${f.name}`);
        for (const a of 'args' in f ? f.args : []) if (a.name.includes('_')) snake.push(`${type.name}.${f.name}(${a.name})`);
      }
    }
    expect(snake).toEqual([]);
  });

  it('fails with a clear message for an unknown preset or an invalid model file', async () => {
    const io = capture();
    expect(await runCli(['schema', 'print', '--preset', 'nope'], io)).toBe(1);
    expect(io.err_.join('\n')).toMatch(/Unknown preset "nope"; available presets: .*experiments/);
    const bad = path.join(dir, 'bad.yaml');
    await writeFile(bad, 'name: x\nentities:\n  thing:\n    fields:\n      n: { type: integer }\n');
    const io2 = capture();
    expect(await runCli(['schema', 'print', '--model', bad], io2)).toBe(1);
    expect(io2.err_.join('\n')).toMatch(/entities\.thing\.fields\.n\.type/);
  });
});

describe('lattice serve --no-introspection', () => {
  it('parses the flag (absent: introspection left to LATTICE_INTROSPECTION)', async () => {
    const seen: Array<Record<string, unknown>> = [];
    for (const args of [['serve', '--no-introspection'], ['serve']]) {
      const program = buildProgram(capture());
      program.commands.find((c) => c.name() === 'serve')!.action(async (flags: Record<string, unknown>) => {
        seen.push(flags);
      });
      await program.parseAsync(args, { from: 'user' });
    }
    expect(seen.map((f) => f.introspection)).toEqual([false, true]);
  });

  it('starts a server that refuses __schema but answers __typename', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lattice-nointro-'));
    const server = await startServe(
      {
        port: 0,
        host: '127.0.0.1',
        dataDir: path.join(dir, 'data'),
        preset: 'experiments',
        demo: false,
        credentialsFile: path.join(dir, 'credentials'),
        logLevel: 'silent',
        introspection: false,
      },
      capture(),
    );
    try {
      const { secret_key } = (await readCredentials(path.join(dir, 'credentials')))!;
      const ask = async (query: string) => {
        const res = await fetch(`${server.url}/graphql`, {
          method: 'POST',
          headers: { authorization: `Bearer ${secret_key}`, 'content-type': 'application/json', accept: 'application/graphql-response+json' },
          body: JSON.stringify({ query }),
        });
        return { status: res.status, body: (await res.json()) as { data?: unknown; errors?: { message: string; extensions: { code: string } }[] } };
      };
      const refused = await ask('{ __schema { types { name } } }');
      expect(refused.status).toBe(400);
      expect(refused.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringMatching(/introspection has been disabled/) });
      expect((await ask('{ __typename }')).body).toEqual({ data: { __typename: 'Query' } });
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
