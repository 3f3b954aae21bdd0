package io.fluxgate.accounts;

import java.math.BigDecimal;

/** An account as its owner sees it; the balance is a decimal string. */
record Account(long userId, String balance, String currency) {

    static Account of(long userId, BigDecimal balance, String currency) {
        return new Account(userId, Money.format(balance), currency);
    }
}
