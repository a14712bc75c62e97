/** The broker's version, reported in $SYS and the REST API. */
export const VERSION = '0.1.0';
