"""Keystone's credentials (table CredentialBlob): each blob kept only encrypted, with
the hash of the key that encrypted it. Nothing here sees a plaintext blob: the manager
(`identity_grpc.credential_blobs`) encrypts before writing and decrypts after reading."""

from .base import Change, ConceptStore, present
from .unique import refusing_clash


class CredentialBlobStore(ConceptStore):
    def create(self, credential_id: str, user_id: str, project_id: str | None, type_: str,
               encrypted_blob: str, key_hash: str, extra: str = "{}", created_at: int = 0):
        """The new row. AlreadyExists when the id is taken (an EC2 credential's id is
        its access key's hash); a user or project that does not exist is an
        IntegrityError."""
        CredentialBlob = self.t.CredentialBlob
        with refusing_clash(f"a credential with id {credential_id} already exists"):
            with self.db.atomic():
                return CredentialBlob.create(
                    id=credential_id, user=user_id, project=project_id, type=type_,
                    encrypted_blob=encrypted_blob, key_hash=key_hash, extra=extra,
                    **({"created_at": created_at} if created_at else {}))

    def find(self, credential_id: str):
        """The row, or None."""
        CredentialBlob = self.t.CredentialBlob
        return CredentialBlob.get_or_none(CredentialBlob.id == credential_id)

    def get(self, credential_id: str):
        return present(self.find(credential_id), f"credential {credential_id} not found")

    def list(self, user_id: str = "", type_: str = "", limit: int = 0) -> list:
        """Rows oldest first (then by id), filtered by owner and type when given; at
        most `limit` of them (0: all)."""
        CredentialBlob = self.t.CredentialBlob
        query = CredentialBlob.select()
        if user_id:
            query = query.where(CredentialBlob.user == user_id)
        if type_:
            query = query.where(CredentialBlob.type == type_)
        query = query.order_by(CredentialBlob.created_at, CredentialBlob.id)
        if limit:
            query = query.limit(limit)
        return list(query)

    def update_credential(self, credential_id: str, change: Change):
        """Apply `change(row) -> fields` to the row, read locked in the transaction."""
        return self.update(self.t.CredentialBlob, credential_id, change,
                              f"credential {credential_id} not found")

    def delete(self, credential_id: str) -> bool:
        """False: no such credential."""
        CredentialBlob = self.t.CredentialBlob
        return bool(CredentialBlob.delete().where(CredentialBlob.id == credential_id).execute())

    def not_encrypted_with(self, key_hash: str, limit: int) -> list:
        """Up to `limit` rows encrypted with another key than `key_hash` (a rotation's
        work: re-encrypt them with the primary)."""
        CredentialBlob = self.t.CredentialBlob
        return list(CredentialBlob.select().where(CredentialBlob.key_hash != key_hash)
                    .order_by(CredentialBlob.id).limit(limit))

    def reencrypt(self, credential_id: str, old_hash: str, encrypted_blob: str,
                  key_hash: str) -> bool:
        """Replace the row's ciphertext if it is still the one encrypted with
        `old_hash` (a concurrent update wins); False when it was not replaced."""
        CredentialBlob = self.t.CredentialBlob
        return bool(CredentialBlob.update(encrypted_blob=encrypted_blob, key_hash=key_hash)
                    .where((CredentialBlob.id == credential_id)
                           & (CredentialBlob.key_hash == old_hash)).execute())

    def key_hashes(self) -> set[str]:
        """The hashes of every key some row is encrypted with."""
        CredentialBlob = self.t.CredentialBlob
        return {row.key_hash for row in CredentialBlob.select(CredentialBlob.key_hash).distinct()}
