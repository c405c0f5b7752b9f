(* Lemma bank, medium. Generated from bank/bank.toml by `python -m sidecar.bankfile generate`; do not edit. *)

Require Import Arith Lia List Bool.
Import ListNotations.

Fixpoint sum_to (n : nat) : nat :=
  match n with
  | 0 => 0
  | S k => S k + sum_to k
  end.

Fixpoint sum_list (l : list nat) : nat :=
  match l with
  | [] => 0
  | x :: t => x + sum_list t
  end.

Fixpoint sum_acc (l : list nat) (acc : nat) : nat :=
  match l with
  | [] => acc
  | x :: t => sum_acc t (acc + x)
  end.

Fixpoint rev_onto {A : Type} (l acc : list A) : list A :=
  match l with
  | [] => acc
  | x :: t => rev_onto t (x :: acc)
  end.

Fixpoint len_acc {A : Type} (l : list A) (n : nat) : nat :=
  match l with
  | [] => n
  | _ :: t => len_acc t (S n)
  end.

Fixpoint double (n : nat) : nat :=
  match n with
  | 0 => 0
  | S k => S (S (double k))
  end.

Fixpoint evenb (n : nat) : bool :=
  match n with
  | 0 => true
  | S 0 => false
  | S (S k) => evenb k
  end.

Inductive ev : nat -> Prop :=
  | ev_0 : ev 0
  | ev_SS : forall n, ev n -> ev (S (S n)).

Fixpoint factorial (n : nat) : nat :=
  match n with
  | 0 => 1
  | S k => S k * factorial k
  end.

Fixpoint fact_acc (n acc : nat) : nat :=
  match n with
  | 0 => acc
  | S k => fact_acc k (S k * acc)
  end.

Fixpoint pow2 (n : nat) : nat :=
  match n with
  | 0 => 1
  | S k => 2 * pow2 k
  end.

Fixpoint fib (n : nat) : nat :=
  match n with
  | 0 => 0
  | S k =>
      match k with
      | 0 => 1
      | S j => fib k + fib j
      end
  end.

Fixpoint fib_iter (n a b : nat) : nat :=
  match n with
  | 0 => a
  | S k => fib_iter k b (a + b)
  end.

Fixpoint count_nat (x : nat) (l : list nat) : nat :=
  match l with
  | [] => 0
  | y :: t => if Nat.eqb x y then S (count_nat x t) else count_nat x t
  end.

Fixpoint ins (x : nat) (l : list nat) : list nat :=
  match l with
  | [] => [x]
  | y :: t => if Nat.leb x y then x :: y :: t else y :: ins x t
  end.

Fixpoint isort (l : list nat) : list nat :=
  match l with
  | [] => []
  | x :: t => ins x (isort t)
  end.

Inductive sorted : list nat -> Prop :=
  | sorted_nil : sorted []
  | sorted_one : forall x, sorted [x]
  | sorted_cons : forall x y l, x <= y -> sorted (y :: l) -> sorted (x :: y :: l).

Fixpoint maxl (l : list nat) : nat :=
  match l with
  | [] => 0
  | x :: t => Nat.max x (maxl t)
  end.

Inductive btree : Type :=
  | bleaf : btree
  | bnode : btree -> nat -> btree -> btree.

Fixpoint bsize (t : btree) : nat :=
  match t with
  | bleaf => 0
  | bnode l _ r => S (bsize l + bsize r)
  end.

Fixpoint mirror (t : btree) : btree :=
  match t with
  | bleaf => bleaf
  | bnode l x r => bnode (mirror r) x (mirror l)
  end.

Fixpoint flatten (t : btree) : list nat :=
  match t with
  | bleaf => []
  | bnode l x r => flatten l ++ x :: flatten r
  end.

Fixpoint leaves (t : btree) : nat :=
  match t with
  | bleaf => 1
  | bnode l _ r => leaves l + leaves r
  end.

Inductive star {A : Type} (R : A -> A -> Prop) : A -> A -> Prop :=
  | star_refl : forall x, star R x x
  | star_step : forall x y z, R x y -> star R y z -> star R x z.

Lemma double_eq_add : forall n : nat, double n = n + n.
Proof.
  induction n as [|n IH]; simpl; lia.
Qed.

Lemma sum_to_ge : forall n : nat, n <= sum_to n.
Proof.
  induction n as [|n IH]; simpl; lia.
Qed.

Lemma sum_list_app : forall l1 l2 : list nat, sum_list (l1 ++ l2) = sum_list l1 + sum_list l2.
Proof.
  intros l1 l2. induction l1 as [|x l1 IH]; simpl; lia.
Qed.

Lemma map_app_ind : forall (A B : Type) (f : A -> B) (l1 l2 : list A), map f (l1 ++ l2) = map f l1 ++ map f l2.
Proof.
  intros A B f l1 l2. induction l1 as [|x l1 IH]; simpl.
  - reflexivity.
  - rewrite IH. reflexivity.
Qed.

Lemma rev_length_ind : forall (A : Type) (l : list A), length (rev l) = length l.
Proof.
  intros A l. induction l as [|x l IH]; simpl.
  - reflexivity.
  - rewrite app_length. simpl. lia.
Qed.

Lemma count_app : forall (x : nat) (l1 l2 : list nat), count_nat x (l1 ++ l2) = count_nat x l1 + count_nat x l2.
Proof.
  intros x l1 l2. induction l1 as [|y l1 IH]; simpl.
  - reflexivity.
  - destruct (Nat.eqb x y); simpl; lia.
Qed.

Lemma count_filter_len : forall (x : nat) (l : list nat), count_nat x l = length (filter (Nat.eqb x) l).
Proof.
  intros x l. induction l as [|y l IH]; simpl.
  - reflexivity.
  - destruct (Nat.eqb x y); simpl; auto.
Qed.

Lemma filter_length_le : forall (A : Type) (f : A -> bool) (l : list A), length (filter f l) <= length l.
Proof.
  intros A f l. induction l as [|x l IH]; simpl.
  - lia.
  - destruct (f x); simpl; lia.
Qed.

Lemma filter_app_ind : forall (A : Type) (f : A -> bool) (l1 l2 : list A), filter f (l1 ++ l2) = filter f l1 ++ filter f l2.
Proof.
  intros A f l1 l2. induction l1 as [|x l1 IH]; simpl.
  - reflexivity.
  - destruct (f x); simpl; rewrite IH; reflexivity.
Qed.

Lemma ev_double : forall n : nat, ev (double n).
Proof.
  induction n as [|n IH]; simpl; constructor; assumption.
Qed.

Lemma ev_evenb : forall n : nat, ev n -> evenb n = true.
Proof.
  intros n H. induction H as [|n H IH]; simpl; auto.
Qed.

Lemma ev_plus : forall n m : nat, ev n -> ev m -> ev (n + m).
Proof.
  intros n m Hn Hm. induction Hn as [|n Hn IH]; simpl.
  - exact Hm.
  - constructor. exact IH.
Qed.

Lemma ev_inv_ss : forall n : nat, ev (S (S n)) -> ev n.
Proof.
  intros n H. inversion H. assumption.
Qed.

Lemma evenb_succ : forall n : nat, evenb (S n) = negb (evenb n).
Proof.
  induction n as [|n IH].
  - reflexivity.
  - rewrite IH. simpl. rewrite negb_involutive. reflexivity.
Qed.

Lemma evenb_double : forall n : nat, evenb (double n) = true.
Proof.
  induction n as [|n IH]; simpl; auto.
Qed.

Lemma rev_app_single : forall (A : Type) (l : list A) (x : A), rev (l ++ [x]) = x :: rev l.
Proof.
  intros A l x. induction l as [|y l IH]; simpl.
  - reflexivity.
  - rewrite IH. reflexivity.
Qed.

Lemma rev_involutive_ind : forall (A : Type) (l : list A), rev (rev l) = l.
Proof.
  intros A l. induction l as [|x l IH]; simpl.
  - reflexivity.
  - rewrite rev_app_single, IH. reflexivity.
Qed.

Lemma map_map_ind : forall (A B C : Type) (f : A -> B) (g : B -> C) (l : list A), map g (map f l) = map (fun x => g (f x)) l.
Proof.
  intros A B C f g l. induction l as [|x l IH]; simpl.
  - reflexivity.
  - rewrite IH. reflexivity.
Qed.

Lemma in_app_left : forall (A : Type) (x : A) (l1 l2 : list A), In x l1 -> In x (l1 ++ l2).
Proof.
  intros A x l1 l2 H. apply in_or_app. left. exact H.
Qed.

Lemma in_map_image : forall (A B : Type) (f : A -> B) (x : A) (l : list A), In x l -> In (f x) (map f l).
Proof.
  intros A B f x l H. induction l as [|y l IH]; simpl in *.
  - contradiction.
  - destruct H as [H|H]; [left; subst; reflexivity | right; auto].
Qed.

Lemma sum_list_repeat : forall x n : nat, sum_list (repeat x n) = n * x.
Proof.
  intros x n. induction n as [|n IH]; simpl; lia.
Qed.

Lemma sum_list_map_double : forall l : list nat, sum_list (map (fun x => 2 * x) l) = 2 * sum_list l.
Proof.
  induction l as [|x l IH]; cbn [map sum_list]; lia.
Qed.

Lemma bsize_mirror : forall t : btree, bsize (mirror t) = bsize t.
Proof.
  induction t as [|l IHl x r IHr]; simpl; lia.
Qed.

Lemma mirror_involutive : forall t : btree, mirror (mirror t) = t.
Proof.
  induction t as [|l IHl x r IHr]; simpl.
  - reflexivity.
  - rewrite IHl, IHr. reflexivity.
Qed.

Lemma flatten_length : forall t : btree, length (flatten t) = bsize t.
Proof.
  induction t as [|l IHl x r IHr]; simpl.
  - reflexivity.
  - rewrite app_length. simpl. lia.
Qed.

Lemma leaves_size : forall t : btree, leaves t = bsize t + 1.
Proof.
  induction t as [|l IHl x r IHr]; simpl; lia.
Qed.

Lemma factorial_pos : forall n : nat, 0 < factorial n.
Proof.
  induction n as [|n IH]; simpl; lia.
Qed.

Lemma pow2_pos : forall n : nat, 0 < pow2 n.
Proof.
  induction n as [|n IH]; simpl; lia.
Qed.

Lemma fib_le_succ : forall n : nat, fib n <= fib (S n).
Proof.
  intros [|n].
  - simpl. lia.
  - change (fib (S (S n))) with (fib (S n) + fib n). lia.
Qed.

Lemma andb_true_split : forall b c : bool, andb b c = true -> b = true /\ c = true.
Proof.
  intros b c H. destruct b, c; simpl in H; try discriminate H; split; reflexivity.
Qed.

Lemma orb_true_split : forall b c : bool, orb b c = true -> b = true \/ c = true.
Proof.
  intros b c H. destruct b; [left; reflexivity | right; exact H].
Qed.

Lemma leb_sound : forall n m : nat, Nat.leb n m = true -> n <= m.
Proof.
  intros n m H. apply Nat.leb_le. exact H.
Qed.

Lemma not_exists_forall : forall (A : Type) (P : A -> Prop), ~ (exists x, P x) <-> (forall x, ~ P x).
Proof.
  intros A P. split.
  - intros H x Hx. apply H. exists x. exact Hx.
  - intros H [x Hx]. exact (H x Hx).
Qed.

Lemma exists_or_distr : forall (A : Type) (P Q : A -> Prop), (exists x, P x \/ Q x) <-> (exists x, P x) \/ (exists x, Q x).
Proof.
  intros A P Q. split.
  - intros [x [Hp|Hq]]; [left | right]; exists x; assumption.
  - intros [[x Hp]|[x Hq]]; exists x; [left | right]; assumption.
Qed.

Lemma sym_trans_refl : forall (A : Type) (R : A -> A -> Prop), (forall x y, R x y -> R y x) -> (forall x y z, R x y -> R y z -> R x z) -> forall x y, R x y -> R x x.
Proof.
  intros A R Hs Ht x y H. apply (Ht x y x); [exact H | apply Hs; exact H].
Qed.

Lemma option_map_compose : forall (A B C : Type) (f : A -> B) (g : B -> C) (o : option A), option_map g (option_map f o) = option_map (fun x => g (f x)) o.
Proof.
  intros A B C f g o. destruct o; reflexivity.
Qed.

Lemma star_one : forall (A : Type) (R : A -> A -> Prop) (x y : A), R x y -> star R x y.
Proof.
  intros A R x y H. apply star_step with y; [exact H | apply star_refl].
Qed.

Lemma ins_sum : forall (x : nat) (l : list nat), sum_list (ins x l) = x + sum_list l.
Proof.
  intros x l. induction l as [|y l IH]; simpl.
  - reflexivity.
  - destruct (Nat.leb x y); simpl; lia.
Qed.

Lemma sum_to_closed : forall n : nat, 2 * sum_to n = n * (n + 1).
Proof.
  induction n as [|n IH]; simpl; lia.
Qed.

Lemma pow2_add : forall n m : nat, pow2 (n + m) = pow2 n * pow2 m.
Proof.
  intros n m. induction n as [|n IH]; simpl; lia.
Qed.
