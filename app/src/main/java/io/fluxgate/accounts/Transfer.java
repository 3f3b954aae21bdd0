package io.fluxgate.accounts;

import java.math.BigDecimal;
import java.time.Instant;

import com.fasterxml.jackson.annotation.JsonIgnore;

/**
 * Money moved into or between accounts: type {@code transfer} between two users, or {@code deposit}
 * (no sender) from outside the system.
 */
record Transfer(long id, Long fromUserId, long toUserId, String amount, String type, Instant createdAt,
        @JsonIgnore boolean replayed) {

    static Transfer of(long id, Long fromUserId, long toUserId, BigDecimal amount, String type, Instant createdAt) {
        return new Transfer(id, fromUserId, toUserId, Money.format(amount), type, createdAt, false);
    }

    /** The same transfer, answered again for a repeated idempotency key. */
    Transfer asReplay() {
        return new Transfer(id, fromUserId, toUserId, amount, type, createdAt, true);
    }
}
