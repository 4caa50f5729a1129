// The bundler inlines only this one field of the manifest.
import { version } from '../../package.json';

/** Memory Lane's version, from package.json: the CLI's --version and the MCP server's serverInfo say the same. */
export const PRODUCT_VERSION: string = version;
