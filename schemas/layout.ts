/** Where things are in an output folder (the start of one home for the layout; see issue 11). */

/** The folder of a command's main shards: feature shards for embed, pairs otherwise. */
export function dataFolderOf(command: string): string {
  return command === 'embed' ? 'features' : 'data';
}
