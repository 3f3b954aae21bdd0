package io.fluxgate.users;

import io.fluxgate.web.Constraints.EmailAddress;
import io.fluxgate.web.Constraints.EmailAddressUpdate;
import io.fluxgate.web.Constraints.NewPassword;
import io.fluxgate.web.Constraints.PersonName;
import io.fluxgate.web.Constraints.PersonNameUpdate;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;

import static io.fluxgate.web.Constraints.REDACTED;
import static io.fluxgate.web.Constraints.normalizeEmail;
import static io.fluxgate.web.Constraints.trim;
import static io.fluxgate.web.Constraints.trimToNull;

/** Request bodies of the users and auth endpoints, normalized (trimmed, lower-cased) on arrival. */
final class UserRequests {

    private UserRequests() {
    }

    record Register(
            @PersonName String name,
            @EmailAddress String email,
            @NewPassword String password) {

        Register {
            name = trimToNull(name);
            email = normalizeEmail(email);
            password = password == null || password.isEmpty() ? null : password;
        }

        /** Debug logging of decoded bodies must never show the password. */
        @Override
        public String toString() {
            return "Register[name=" + name + ", email=" + email + ", password=" + REDACTED + "]";
        }
    }

    record Login(
            @NotBlank(message = "Email is required") String email,
            @NotBlank(message = "Password is required") String password) {

        Login {
            email = normalizeEmail(email);
        }

        @Override
        public String toString() {
            return "Login[email=" + email + ", password=" + REDACTED + "]";
        }
    }

    /** Absent fields stay as they are; an empty avatar or bio clears it. Only admins may send status. */
    record Patch(
            @PersonNameUpdate
            String name,

            @EmailAddressUpdate
            String email,

            @Size(max = 2048, message = "Avatar cannot exceed 2048 characters")
            @Pattern(regexp = "^$|^https?://\\S+$", message = "Avatar must be an http or https URL")
            String avatar,

            @Size(max = 500, message = "Bio cannot exceed 500 characters")
            String bio,

            @Pattern(regexp = "active|inactive|suspended", message = "Status must be one of active, inactive, suspended")
            String status) {

        Patch {
            name = trim(name);
            email = normalizeEmail(email);
            avatar = trim(avatar);
            bio = trim(bio);
        }

        boolean isEmpty() {
            return name == null && email == null && avatar == null && bio == null && status == null;
        }
    }
}
