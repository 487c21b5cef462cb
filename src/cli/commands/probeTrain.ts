/**
 * `prefrank probe train`: fits the representation reward probe (DESIGN.md, Method 2) on feature
 * shards from `prefrank embed`, or on any preference data embedded on the fly, and calibrates its
 * confidence on held-out pairs (Method 3).
 */
import type { CommandModule } from 'yargs';
import { textTable } from '../../analysis/table.js';
import { featureSourceOf, prefrankVersion, saveProbe } from '../../probe/artifact.js';
import { countByFile } from '../../probe/featureData.js';
import { featureShardFiles, readFeatureShards } from '../../probe/featureShards.js';
import { resolveTrainOptions, trainProbe } from '../../probe/trainProbe.js';
import { asUsageError, UserError } from '../../runtime/errors.js';
import { Logger } from '../../runtime/Logger.js';
import { withEmbedOptions, type EmbedArgs } from '../embedOptions.js';
import { withInputOptions } from '../ioOptions.js';
import { loadFeatures, type InputArgs } from '../probeInputs.js';
import { autoOrNumber } from '../rewardOptions.js';
import type { FeatureSource } from '../../../schemas/probe.js';
import type { FeatureSet } from '../../../schemas/features.js';

/** trainProbe's option checks name the option; the flag is its kebab-case form. */
const trainFlag = (message: string) => message.replace(/^trainProbe: (\w+)/, (_, k: string) => `--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`);


type TrainArgs = InputArgs &
  EmbedArgs & {
    out: string;
    margin: number;
    lr: number;
    weightDecay: number;
    epochs: number;
    patience: number;
    batchSize: number;
    seed: number;
    holdout: number;
    standardize: boolean;
    labelWeight: number;
    alpha: string;
  };

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train <inputs..>',
  describe: 'Train a hybrid reward probe on preference pairs and/or per-response safety labels',
  builder: (y) =>
    withEmbedOptions(withInputOptions(y))
      .option('out', { type: 'string', demandOption: true, describe: 'Probe folder to write (model.safetensors + probe.json)' })
      .option('margin', { type: 'number', default: 1, describe: 'Margin m of the pair loss -log sigmoid(r_c - r_r - m)', group: 'Training:' })
      .option('lr', { type: 'number', default: 1e-3, describe: 'Adam learning rate', group: 'Training:' })
      .option('weight-decay', { type: 'number', default: 0.01, describe: 'Decoupled weight decay (AdamW)', group: 'Training:' })
      .option('epochs', { type: 'number', default: 100, describe: 'Most passes over the training split', group: 'Training:' })
      .option('patience', { type: 'number', default: 10, describe: 'Stop after this many epochs without a better held-out accuracy', group: 'Training:' })
      .option('batch-size', { type: 'number', default: 64, describe: 'Examples per Adam step', group: 'Training:' })
      .option('seed', { type: 'number', default: 0, describe: 'Seed of the held-out split, the initialisation and the shuffling', group: 'Training:' })
      .option('holdout', { type: 'number', default: 0.2, describe: 'Fraction held out for early stopping and alpha', group: 'Training:' })
      .option('standardize', { type: 'boolean', default: true, describe: 'Standardise features with the training mean/std (stored in the probe); --no-standardize to turn off', group: 'Training:' })
      .option('label-weight', { type: 'number', default: 1, describe: 'Weight of the per-response label loss relative to the pair loss', group: 'Training:' })
      .option('alpha', { type: 'string', default: 'auto', describe: "Confidence temperature stored in the probe: auto (maximum likelihood on the held-out pairs) or a number", group: 'Training:' }) as never,
  handler: async (args) => {
    const log = new Logger(args.logLevel, args.logFormat);
    const alpha = autoOrNumber('alpha', args.alpha);
    const trainOptions = {
      margin: args.margin,
      lr: args.lr,
      weightDecay: args.weightDecay,
      epochs: args.epochs,
      patience: args.patience,
      batchSize: args.batchSize,
      seed: args.seed,
      holdout: args.holdout,
      standardize: args.standardize,
      labelWeight: args.labelWeight,
      alpha,
    };
    // Flags are checked before the model opens: a typo should not cost an embedding pass.
    asUsageError(() => resolveTrainOptions({ ...trainOptions, layers: 1, width: 1 }), trainFlag);
    // Feature shards from `prefrank embed` train without a model; other inputs are embedded here.
    const shardFiles = await featureShardFiles(args.inputs);
    let features: FeatureSet;
    let source: FeatureSource;
    let files: readonly string[];
    let close = async () => {};
    if (shardFiles) {
      const shards = await readFeatureShards(shardFiles);
      ({ features, source } = shards);
      files = shardFiles;
      log.info(`read ${features.pairs.length} pairs from ${files.length} feature shard(s)`, shards.candidates ? { unusedCandidates: shards.candidates } : {});
    } else {
      const loaded = await loadFeatures(args, log);
      ({ features, files } = loaded);
      source = featureSourceOf(loaded.embedder, loaded.modelName);
      close = () => loaded.embedder.close();
    }
    try {
      if (features.pairs.length === 0 && features.labels.length === 0) throw new UserError('probe train: the inputs gave no pairs and no labelled responses to train on');
      const result = trainProbe(features.pairs, features.labels, {
        ...trainOptions,
        layers: source.layers.length,
        width: source.width,
        onEpoch: (e) => log.debug(`epoch ${e.epoch}`, { trainLoss: e.trainLoss, heldOutAccuracy: e.heldOutAccuracy }),
      });
      const meta = saveProbe(args.out, result.probe, {
        prefrank: prefrankVersion(),
        features: source,
        alpha: result.alpha,
        alphaSource: result.alphaSource,
        calibration: result.calibration,
        training: {
          // Per original input file (for feature shards, the files that were embedded).
          inputs: countByFile(features, shardFiles ? [] : files),
          pairs: features.pairs.length,
          labels: features.labels.length,
          options: { ...result.options },
        },
        metrics: result.metrics,
      });
      const m = meta.metrics;
      const fmt = (x: number | null) => (x === null ? '-' : x.toFixed(4));
      process.stdout.write(
        textTable([
          ['probe', args.out],
          ['kind', `${meta.kind} (${meta.features.layers.length} layer(s) x ${meta.features.width})`],
          ['pairs train / held out', `${m.trainPairs} / ${m.heldOutPairs}`],
          ['labels train / held out', `${m.trainLabels} / ${m.heldOutLabels}`],
          ['train accuracy', fmt(m.trainAccuracy)],
          ['held-out accuracy', fmt(m.heldOutAccuracy)],
          ['held-out AUROC (labels)', fmt(m.heldOutAuroc)],
          ['alpha', `${meta.alpha.toFixed(4)} (${meta.alphaSource})`],
          ['label prior (estimated)', meta.calibration ? `${meta.calibration.labelPrior.toFixed(3)} (probe accuracy vs truth ~${meta.calibration.probeAccuracy.toFixed(3)})` : '-'],
          ['unsafe slope', meta.calibration ? `${meta.calibration.unsafeSlope} (${meta.calibration.slopeSource}, ${meta.calibration.cleanPairs} clean pairs)` : '-'],
          ['held-out ECE', fmt(m.heldOutEce)],
          ['best epoch / run', `${m.bestEpoch} / ${m.epochsRun}`],
        ]) + '\n',
      );
    } finally {
      await close();
    }
  },
};

