/** The browser console at /console: static HTML, CSS and JavaScript served from the jar. */
package io.fluxgate.console;
