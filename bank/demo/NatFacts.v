(** * NatFacts: arithmetic facts for the demo development.

    (* Nested comment: "Admitted." here is just text. *) *)

From Coq Require Import Arith Lia String.

Definition status_line : string :=
  "NatFacts: lemmas ending in Admitted. are still open; admit. marks a hole"%string.

(** Triangular numbers. *)
Fixpoint tri (n : nat) : nat :=
  match n with
  | 0 => 0
  | S k => S k + tri k
  end.

Lemma tri_le_sq : forall n : nat, tri n <= n * n.
Admitted.

Lemma tri_closed : forall n : nat, 2 * tri n = n * (n + 1).
Proof.
  induction n as [|n IH].
  - reflexivity.
  - simpl.
    admit.
Admitted.

Lemma add_sub_cancel_demo : forall a b : nat, a + b - b = a.
Proof. intros a b. lia. Qed.

Lemma max_comm_demo : forall a b : nat, Nat.max a b = Nat.max b a.
Admitted.

Lemma square_mono : forall a b : nat, a <= b -> a * a <= b * b.
Proof.
  intros a b H.
  admit.
Admitted.

Lemma even_or_odd : forall n : nat, exists k, n = 2 * k \/ n = 2 * k + 1.
Proof.
  induction n as [|n [k [H|H]]].
  - exists 0. left. reflexivity.
  - admit.
  - admit.
Admitted.
