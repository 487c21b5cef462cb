import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import yargs from 'yargs';
import { embedderOptions, parseLayers, unescapeTemplate, withEmbedOptions, type EmbedArgs } from '../../src/cli/embedOptions.js';
import { UsageError } from '../../src/runtime/errors.js';
import { sharedPath } from '../../src/runtime/paths.js';
import { hhRows, runCli, tempDir, writeJsonl } from '../helpers/badInputs.js';

const parse = (argv: string[]) => withEmbedOptions(yargs(argv)).strict().exitProcess(false).fail((msg, err) => { throw err ?? new Error(msg); }).parseSync() as unknown as EmbedArgs;
const fixture = sharedPath('fixtures', 'llama-tiny');

describe('embed flags', () => {
  it('parses --layers lists, ranges and negatives', () => {
    assert.equal(parseLayers('all'), null);
    assert.deepEqual(parseLayers('0,4-6,-1'), [0, 4, 5, 6, -1]);
    assert.throws(() => parseLayers('a'), (e: Error) => e instanceof UsageError && /--layers/.test(e.message));
    assert.throws(() => parseLayers('5-2'), /--layers: range 5-2 runs backwards/);
  });

  it('turns flags into EmbedderOptions, a model folder meaning its model.onnx', () => {
    const o = embedderOptions(parse(['--model', fixture, '--device', 'cpu', '--layers', '0,-1', '--template', 'input:{prompt}\\noutput:{response}', '--max-tokens', '64', '--threads', '2']), () => {});
    assert.equal(o.model, `${fixture}/model.onnx`);
    assert.deepEqual(o.layers, [0, -1]);
    assert.equal(o.template, 'input:{prompt}\noutput:{response}');
    assert.equal(o.maxTokens, 64);
    assert.equal(o.intraOpThreads, 2);
    assert.equal(o.batchTokens, 4096);
    assert.equal(o.cacheMiB, 256);
    assert.equal(unescapeTemplate('a\\tb\\\\n'), 'a\tb\\n');
  });

  it('names the flag of a bad value', () => {
    const bad: [string[], RegExp][] = [
      [['--batch-tokens', '0'], /--batch-tokens must be an integer >= 1/],
      [['--max-tokens', '2.5'], /--max-tokens must be an integer >= 1/],
      [['--threads', '-1'], /--threads must be an integer >= 0/],
      [['--cache-size', '-3'], /--cache-size must be a number of MiB >= 0/],
      [['--template', '{prompt}'], /--template must contain \{response\}/],
      [['--model', '/nonexistent/model.onnx'], /--model: \/nonexistent\/model.onnx does not exist/],
      [['--tokenizer', '/nonexistent/tokenizer.json'], /--tokenizer: .* does not exist/],
    ];
    for (const [argv, re] of bad) {
      assert.throws(() => embedderOptions(parse(argv.includes('--model') ? argv : ['--model', fixture, ...argv]), () => {}), (e: Error) => e instanceof UsageError && re.test(e.message), argv.join(' '));
    }
    assert.throws(() => parse(['--device', 'tpu']), /Invalid values/);
  });
});

describe('run settings of the model path', () => {
  it("record tokenizer_config.json's sha256: a resumed run into a folder made before an edit of it (model_max_length, the chat template) is refused, naming it", async () => {
    const work = await tempDir('tokenizer-config');
    const model = join(work, 'bert-tiny');
    cpSync(sharedPath('fixtures', 'bert-tiny'), model, { recursive: true });
    const input = join(work, 'hh.jsonl');
    writeJsonl(input, hhRows().slice(0, 6));
    const args = ['embed', input, '--out', join(work, 'out'), '--model', model, '--device', 'cpu'];
    const first = await runCli(args);
    assert.equal(first.code, 0, first.stderr);
    const settings = JSON.parse(readFileSync(join(work, 'out', 'run.json'), 'utf8')).settings as Record<string, unknown>;
    assert.match(String(settings.tokenizerConfigSha256), /^[0-9a-f]{64}$/);
    const configFile = join(model, 'tokenizer_config.json');
    writeFileSync(configFile, JSON.stringify({ ...JSON.parse(readFileSync(configFile, 'utf8')), model_max_length: 16 }));
    const again = await runCli(args);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /other settings \(tokenizerConfigSha256: "[0-9a-f]{64}" -> "[0-9a-f]{64}"\)/);
  });
});
