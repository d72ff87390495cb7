/** A size in MB as a reader reads it: 880 MB, 2.2 GB (the pages' model sizes and downloads). */
export function sizeText(mb: number): string {
  return mb < 1000 ? `${mb} MB` : `${(mb / 1024).toFixed(1)} GB`;
}
