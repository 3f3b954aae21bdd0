package io.fluxgate.changes.delivery;

import io.fluxgate.security.Caller;
import reactor.core.publisher.Mono;

/** What a session asks of security: a fresh token checked, and whether its current one still holds. */
public interface Authority {

    /** The caller a token names, when it is valid and not revoked; an error otherwise. */
    Mono<Caller> verify(String token);

    /** Whether the caller's token is still good (not revoked); may fail when that cannot be known now. */
    Mono<Boolean> holds(Caller caller);
}
