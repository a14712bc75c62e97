/** esbuild bundles imported stylesheets into the build's .css file. */
declare module '*.css';
