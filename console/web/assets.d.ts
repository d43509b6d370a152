// esbuild bundles the stylesheet next to the script (app.css).
declare module '*.css';
