package io.fluxgate.accounts;

import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Positive;
import jakarta.validation.constraints.Size;

/** Request bodies of the account endpoints. */
final class AccountRequests {

    private AccountRequests() {
    }

    record Deposit(@Money.Amount String amount) {
    }

    /**
     * @param idempotencyKey optional; the sender's key for this transfer, so a retried request moves
     *        money once and answers with the first transfer
     */
    record NewTransfer(
            @NotNull(message = "Recipient is required")
            @Positive(message = "Recipient must be a positive user id")
            Long toUserId,

            @Money.Amount
            String amount,

            @Size(min = 1, max = 100, message = "Idempotency key must be 1 to 100 characters")
            String idempotencyKey) {
    }
}
