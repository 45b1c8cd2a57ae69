// The YAML library, loaded on first use: ~70 modules that a command which never reads or writes YAML
// (`inspect` of a PEM file as a table, `--version`) should not pay for at start-up (docs/architecture.md).
const { createRequire } = process.getBuiltinModule('node:module');

type Yaml = typeof import('yaml');
const require = createRequire(import.meta.url);
let loaded: Yaml | undefined;

function yaml(): Yaml {
  loaded ??= require('yaml') as Yaml;
  return loaded;
}

export const parseYaml: Yaml['parse'] = ((...a: Parameters<Yaml['parse']>) => yaml().parse(...a)) as Yaml['parse'];
export const stringifyYaml: Yaml['stringify'] = ((...a: Parameters<Yaml['stringify']>) => yaml().stringify(...a)) as Yaml['stringify'];
