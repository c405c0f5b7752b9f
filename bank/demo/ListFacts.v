(** * ListFacts: a few facts about lists for the demo development.

    Status: work in progress.  Lemmas that still end in Admitted. are open,
    and a proof that contains admit. has a hole at that spot.  (Mentioning
    Admitted. and admit. inside this comment does not create goals.) *)

From Coq Require Import List Arith Lia Bool.
Import ListNotations.

(** Append one element at the end, the slow way. *)
Fixpoint snoc {A : Type} (l : list A) (x : A) : list A :=
  match l with
  | [] => [x]
  | y :: t => y :: snoc t x
  end.

Lemma snoc_app : forall (A : Type) (l : list A) (x : A), snoc l x = l ++ [x].
Proof.
  induction l as [|y t IH]; intros x; simpl.
  - reflexivity.
  - rewrite IH. reflexivity.
Qed.

Lemma snoc_length : forall (A : Type) (l : list A) (x : A),
  length (snoc l x) = S (length l).
Admitted.

Lemma rev_snoc : forall (A : Type) (l : list A) (x : A), rev (snoc l x) = x :: rev l.
Proof.
  intros A l x.
  rewrite snoc_app.
  admit.
Admitted.

Fixpoint sum (l : list nat) : nat :=
  match l with
  | [] => 0
  | x :: t => x + sum t
  end.

Lemma sum_app : forall l1 l2 : list nat, sum (l1 ++ l2) = sum l1 + sum l2.
Proof.
  induction l1 as [|x t IH]; intros l2; simpl.
  - reflexivity.
  - admit.
Admitted.

(* TODO: this one should follow from sum_app; it was Admitted. to unblock the build. *)
Lemma sum_rev : forall l : list nat, sum (rev l) = sum l.
Admitted.

Definition all_pos (l : list nat) : bool := forallb (fun n => 0 <? n) l.

Lemma all_pos_cons : forall (x : nat) (l : list nat),
  all_pos (x :: l) = true -> 0 < x /\ all_pos l = true.
Proof.
  intros x l H. unfold all_pos in *. simpl in H.
  apply andb_true_iff in H as [H1 H2]. split.
  - admit.
  - exact H2.
Admitted.

Lemma in_snoc : forall (A : Type) (l : list A) (x y : A),
  In y (snoc l x) <-> In y l \/ y = x.
Admitted.
