/** Shared web plumbing: problem details, request validation, paging and cursor types. */
package io.fluxgate.web;
