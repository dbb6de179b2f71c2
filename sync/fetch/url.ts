// Which transport a source URL asks for.

export type FetchKind = 'http' | 'rsync' | 'axfr' | 'file';

export function fetchKind(url: string): FetchKind | null {
  if (/^https?:\/\//i.test(url)) return 'http';
  if (/^rsync:\/\//i.test(url)) return 'rsync';
  if (/^axfr:\/\//i.test(url)) return 'axfr';
  if (/^file:\/\//i.test(url)) return 'file';
  // rsync daemon shorthand host::module/path ([v6]::module too; user@ allowed)
  if (/^(?:[^\s/@:]+@)?(?:\[[0-9a-f:.]+\]|[^\s/:[\]]+)::[^\s]/i.test(url)) return 'rsync';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return null; // some other scheme
  return 'file';
}
