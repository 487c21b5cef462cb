import type { CommandModule } from 'yargs';
import { embed } from '../../../pipelines/embed.js';
import { ioSettings } from '../../runtime/Config.js';
import { Embedder } from '../../runtime/model/Embedder.js';
import { Logger, type LogLevel } from '../../runtime/Logger.js';
import { Stats } from '../../runtime/Stats.js';
import { embedderOptions, modelSettings, withEmbedOptions, type EmbedArgs } from '../embedOptions.js';
import { ioConfig, withIoOptions, type IoArgs } from '../ioOptions.js';
import { runJob } from '../../exec/runJob.js';

type Args = IoArgs & EmbedArgs & { logLevel: LogLevel; logFormat: 'text' | 'json' };

export const embedCommand: CommandModule<object, Args> = {
  command: 'embed <inputs..>',
  describe: 'Embed preference data: the last token\'s hidden state at each selected layer of template(prompt, response), as feature shards',
  builder: (y) =>
    withEmbedOptions(withIoOptions(y))
      .example('$0 embed data/sample --out out/features', 'Features of the sample with the default model')
      .example('$0 embed "pairs/*.parquet" --out feats --model my-policy/ --layers 8-15 --template "input:{prompt}output:{response}"', 'Your own model, 8 layers') as never,
  handler: async (args) => {
    const log = new Logger(args.logLevel, args.logFormat);
    const io = ioConfig(args);
    const stats = new Stats();
    const embedOptions = embedderOptions(args, (m) => log.info(m));
    const settings = { command: 'embed', ...ioSettings(io), ...(await modelSettings(args, embedOptions)) };
    await using embedder = await Embedder.open(embedOptions);
    log.info(`model: ${embedder.numLayers} layer(s) (${embedder.tapKind}), reading ${embedder.layers.length} x ${embedder.width}, device ${embedder.device}`);
    const out = await runJob({ command: 'embed', io, settings, log, stats, pipeline: (parts, configHash) => embed(parts, io, { embedder, stats, configHash }) });
    const texts = stats.get('embedPairs.texts');
    const slots = stats.get('embedPairs.paddedSlots');
    const waste = slots ? 1 - stats.get('embedPairs.computedTokens') / slots : 0;
    log.info(
      `embed: ${texts} texts (${stats.get('embedPairs.computed')} run, ${stats.get('embedPairs.cacheHits')} from the cache, ${stats.get('embedPairs.truncated')} truncated), ` +
        `${(texts / Math.max(out.seconds, 1e-9)).toFixed(1)} texts/s, ${(stats.get('embedPairs.tokens') / Math.max(out.seconds, 1e-9)).toFixed(0)} tokens/s, padding ${(100 * waste).toFixed(1)}%`,
    );
  },
};
