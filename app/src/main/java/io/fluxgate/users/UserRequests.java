package io.fluxgate.users;

import java.util.List;

import io.fluxgate.web.Constraints.EmailAddress;
import io.fluxgate.web.Constraints.EmailAddressUpdate;
import io.fluxgate.web.Constraints.NewPassword;
import io.fluxgate.web.Constraints.PersonName;
import io.fluxgate.web.Constraints.PersonNameUpdate;
import io.swagger.v3.oas.annotations.media.Schema;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;

import static io.fluxgate.web.Constraints.INVALID_EMAIL;
import static io.fluxgate.web.Constraints.MAX_EMAIL;
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

    /** Lengths are bounded so a login costs the same whatever a client sends. */
    record Login(
            @NotBlank(message = "Email is required")
            @Size(max = MAX_EMAIL, message = INVALID_EMAIL)
            String email,
            @NotBlank(message = "Password is required")
            @Size(max = 1024, message = "Password is too long")
            String password) {

        Login {
            email = normalizeEmail(email);
        }

        @Override
        public String toString() {
            return "Login[email=" + email + ", password=" + REDACTED + "]";
        }
    }

    /** Absent fields stay as they are; an empty avatar or bio clears it. Only admins may send status. */
    @Schema(name = "UserPatch")
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

    /** {@code PUT /api/users/{id}/roles}: the roles the user should hold (USER is always kept). */
    record Roles(
            @NotNull(message = "Roles are required")
            @Size(max = 10, message = "At most 10 roles")
            List<@NotNull(message = "A role cannot be null")
                 @Pattern(regexp = "USER|ADMIN", message = "Role must be one of USER, ADMIN") String> roles) {
    }
}
