package io.fluxgate.accounts;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.math.BigDecimal;
import java.math.RoundingMode;

import jakarta.validation.Constraint;
import jakarta.validation.ConstraintValidator;
import jakarta.validation.ConstraintValidatorContext;
import jakarta.validation.Payload;

/**
 * Money on the wire: a decimal string such as {@code "12.50"} (a JSON number is read by its text, so
 * nothing is rounded through a double). In the database it is {@code NUMERIC(19,2)}.
 */
final class Money {

    /** Larger single amounts are a client bug, not a payment: refuse them outright. */
    static final BigDecimal MAX_AMOUNT = new BigDecimal("1000000000.00");
    /** Longer amount text is refused unread; the largest amount with padding fits in far less. */
    static final int MAX_TEXT = 32;

    private Money() {
    }

    /** The amount of a request that passed {@link Amount} validation. */
    static BigDecimal parse(String amount) {
        return new BigDecimal(amount.strip()).setScale(2, RoundingMode.UNNECESSARY);
    }

    /** Always two decimals, never an exponent. */
    static String format(BigDecimal amount) {
        return amount.setScale(2, RoundingMode.UNNECESSARY).toPlainString();
    }

    /** A positive amount with at most two decimals, at most {@link #MAX_AMOUNT}. */
    @Documented
    @Constraint(validatedBy = AmountValidator.class)
    @Target({ElementType.FIELD, ElementType.RECORD_COMPONENT})
    @Retention(RetentionPolicy.RUNTIME)
    @interface Amount {
        String message() default "Amount must be a decimal string such as \"12.50\"";

        Class<?>[] groups() default {};

        Class<? extends Payload>[] payload() default {};
    }

    static final class AmountValidator implements ConstraintValidator<Amount, String> {

        @Override
        public boolean isValid(String value, ConstraintValidatorContext context) {
            if (value == null) {
                return fail(context, "Amount is required");
            }
            // Shape and length first, by one scan of at most MAX_TEXT characters: BigDecimal never
            // sees an exponent or a ninety-kilobyte string.
            String text = value.strip();
            if (value.length() > MAX_TEXT || !isPlainDecimal(text)) {
                return false;
            }
            BigDecimal amount = new BigDecimal(text);
            if (amount.signum() <= 0) {
                return fail(context, "Amount must be greater than 0");
            }
            if (amount.stripTrailingZeros().scale() > 2) {
                return fail(context, "Amount cannot have more than 2 decimal places");
            }
            if (amount.compareTo(MAX_AMOUNT) > 0) {
                return fail(context, "Amount cannot exceed " + MAX_AMOUNT.toPlainString());
            }
            return true;
        }

        /** An optional minus, digits, and optionally a dot with more digits: no exponent, no plus, no spaces. */
        static boolean isPlainDecimal(String text) {
            int i = text.startsWith("-") ? 1 : 0;
            int integerDigits = 0;
            while (i < text.length() && isDigit(text.charAt(i))) {
                i++;
                integerDigits++;
            }
            if (i < text.length() && text.charAt(i) == '.') {
                i++;
                int fractionDigits = 0;
                while (i < text.length() && isDigit(text.charAt(i))) {
                    i++;
                    fractionDigits++;
                }
                if (fractionDigits == 0) {
                    return false;
                }
            }
            return integerDigits > 0 && i == text.length();
        }

        private static boolean isDigit(char c) {
            return c >= '0' && c <= '9';
        }

        private static boolean fail(ConstraintValidatorContext context, String message) {
            context.disableDefaultConstraintViolation();
            context.buildConstraintViolationWithTemplate(message).addConstraintViolation();
            return false;
        }
    }
}
